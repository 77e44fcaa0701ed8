"""February (Valentine's) customers."""
from dashboard import audience_page, frame

frame.use_app_navigation()

audience_page.render("february")
