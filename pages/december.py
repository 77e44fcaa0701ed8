"""December (Christmas) customers."""
from dashboard import audience_page

audience_page.render("december")
