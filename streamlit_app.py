"""The dashboard's router and shared frame. The pages arrive with the dashboard issue; until then one page says so."""
import streamlit as st

st.set_page_config(page_title="Seasonal audiences", page_icon="🎁", layout="wide")
navigation = st.navigation([st.Page("pages/overview.py", title="Overview", default=True)])
navigation.run()
