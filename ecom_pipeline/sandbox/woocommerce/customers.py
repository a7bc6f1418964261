"""Customer writes of an emulated WooCommerce shop (POST/PUT/DELETE /customers)."""

from __future__ import annotations

from typing import Any

from ecom_pipeline.sandbox.woocommerce.errors import StoreError
from ecom_pipeline.sandbox.woocommerce.records import Customer, customer_address
from ecom_pipeline.sandbox.woocommerce.state import WooState


class WooCustomers(WooState):
    """Customers (WordPress users with the customer role): create, partial update, delete."""

    def update_customer(self, cid: int, data: dict[str, Any]) -> Customer:
        """PUT /customers/{id}: partial billing/shipping objects merge into the existing ones."""
        with self.lock:
            c = self.get_customer(cid)
            for key in ("email", "first_name", "last_name"):
                if key in data:
                    setattr(c, key, data[key])
            for key in ("billing", "shipping"):
                if key in data:
                    getattr(c, key).update({k: v for k, v in data[key].items() if k in getattr(c, key)})
            c.modified = max(c.modified, self.now())
            self._touch("customers")
            self._emit("customer", "updated", c.id)
            return c

    def set_customer_role(self, cid: int, role: str) -> Customer:
        """Admin helper: give a user another role (a wholesale plugin's ``wholesale_customer``, a person's edit in
        Users). The REST API cannot: ``role`` is read-only in its schema. Not a customer.updated change (no
        WooCommerce hook fires for a role change), but the user's modification time moves, as WordPress's does."""
        with self.lock:
            c = self.get_customer(cid)
            c.role = role
            c.modified = max(c.modified, self.now())
            self._touch("customers")
            return c

    def delete_customer(self, cid: int) -> Customer:
        """DELETE /customers/{id}?force=true: the user goes; their orders stay as they are."""
        with self.lock:
            c = self.get_customer(cid)
            del self.customers[cid]
            self._touch("customers")
            self._emit("customer", "deleted", cid)
            return c

    def create_customer(self, data: dict[str, Any]) -> Customer:
        with self.lock:
            email = str(data.get("email", ""))
            if any(c.email == email for c in self.customers.values()):
                raise StoreError(
                    400,
                    "registration-error-email-exists",
                    "An account is already registered with your email address. "
                    '<a href="#" class="showlogin">Please log in.</a>',
                )
            ts = self.now()
            cid = self._next_user
            self._next_user += 1
            c = Customer(
                id=cid,
                created=ts,
                modified=ts,
                email=email,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                username=data.get("username") or email.split("@")[0],
                billing=customer_address(True, **(data.get("billing") or {})),
                shipping=customer_address(False, **(data.get("shipping") or {})),
            )
            self.customers[cid] = c
            self._touch("customers")
            self._emit("customer", "created", cid)
            return c
