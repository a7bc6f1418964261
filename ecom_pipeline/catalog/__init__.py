"""The hub as the merchant's master catalogue: import and export of products and variants as CSV or Parquet.

``columns`` says what a file holds, ``validate`` checks every row against the file and the hub (pure),
``files`` reads and writes files through pandas, ``hub`` reads the hub and writes an import's plan.
"""
