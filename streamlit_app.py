"""The dashboard's router and shared frame: navigation over pages/ and the sidebar. Nothing else."""
import streamlit as st

from dashboard import frame

st.set_page_config(page_title="Seasonal audiences", page_icon=":material/redeem:", layout="wide")
navigation = st.navigation(
    {
        "Audiences": [
            st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
            st.Page("pages/february.py", title="February customers", icon=":material/favorite:"),
            st.Page("pages/december.py", title="December customers", icon=":material/park:"),
            st.Page("pages/orders_by_month.py", title="Orders by month", icon=":material/bar_chart:"),
        ],
        "Data team": [st.Page("pages/data_pipeline.py", title="Data pipeline", icon=":material/build:")],
    }
)
frame.sidebar()
navigation.run()
