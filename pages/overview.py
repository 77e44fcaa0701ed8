"""Overview: how fresh the data is, the headline numbers, and where to go next."""
import streamlit as st

from dashboard import data, formats, frame

frame.use_app_navigation()

st.title("Seasonal audiences")
st.caption("Customers who bought for Valentine's (February) and Christmas (December), ready to download for a campaign.")
publication = frame.require_data()

st.info(
    f"Data from **{frame.as_text(formats.file_name(publication.input_path))}**, published {frame.age(publication.published_at)} "
    f"({publication.published_at:%Y-%m-%d %H:%M} UTC, run {publication.run_id})."
)
numbers = data.headline(publication.run_id)
customers, purchases, revenue = st.columns(3)
customers.metric("Customers", formats.count(numbers["customers"]))
purchases.metric("Purchases", formats.count(numbers["purchases"]), help="Completed orders.")
revenue.metric("Revenue", formats.euro(numbers["revenue"]), help="Quantity × unit price of purchases, in EUR.")

february, december = st.columns(2)
with february.container(border=True):
    st.metric("February audience", f"{formats.count(numbers['february'])} customers")
    st.caption(f"{formats.count(numbers['february_opted_in'])} of them opted in to marketing.")
    st.page_link("pages/february.py", label="Open February customers", icon=":material/favorite:")
with december.container(border=True):
    st.metric("December audience", f"{formats.count(numbers['december'])} customers")
    st.caption(f"{formats.count(numbers['december_opted_in'])} of them opted in to marketing.")
    st.page_link("pages/december.py", label="Open December customers", icon=":material/park:")
st.page_link("pages/orders_by_month.py", label="See orders by month", icon=":material/bar_chart:")
