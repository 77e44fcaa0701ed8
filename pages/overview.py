"""Placeholder overview page until the dashboard is built."""
import streamlit as st

st.title("Seasonal audiences")
st.info(
    "The dashboard is not built yet. The data is: run `make run` (or `python -m elt run`) and query the marts "
    "`mrt.customers_february`, `mrt.customers_december` and `mrt.orders_by_month` with psql (`make db` shows how)."
)
