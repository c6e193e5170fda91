"""One router per resource; `vigil.api.app.ROUTERS` lists them."""
