"""ecom_pipeline: two-way sync between merchants' shops and one hub warehouse, on Dagster."""
