"""The evidence vault: files kept encrypted, hashed at capture, preserved as the policy says, with
a chain of custody; and the exposure of the people who look at them (docs/wellbeing.md).

    store.py     where encrypted bytes live (a small interface; the filesystem by default)
    media.py     what a file is (sniffed from its bytes), its thumbnail and perceptual hash
    vault.py     items, preservation, legal holds, custody, deletion and purge
    exposure.py  every reveal and fetch counted, totals per person and day
"""
