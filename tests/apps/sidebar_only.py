"""The app's real sidebar alone. AppTest drops sidebar elements on reruns of a multipage app (Streamlit 1.67),
so tests that click through the sidebar use this single-page host; the browser test covers the real app."""
from dashboard import frame

frame.sidebar()
