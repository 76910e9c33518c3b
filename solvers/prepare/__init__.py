"""Step 1, read the request: the usable offers and minerals in arrays, and the prices.

``instance.prepare(request)`` gives the ``Instance`` every later step reads; ``pricing``
holds the plain-arithmetic price rules (tiers, discounts, tariffs) that the build and the
check both use. Nothing here knows Pyomo or HiGHS.
"""
