"""February (Valentine's) customers."""
from dashboard import audience_page

audience_page.render("february")
