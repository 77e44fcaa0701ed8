"""The Streamlit dashboard's building blocks: data access, export rules, charts, the shared frame."""
