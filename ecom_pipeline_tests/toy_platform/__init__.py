"""A toy platform that lives only in the test tree: its folder plus one registration (``spec.platform_spec``).

It proves the registry is the one seam: connect, extract, transform, webhooks and the emulator of a platform the
package has never heard of reach the Dagster assets, the CLI, the receiver and the sandbox through it alone.
"""
