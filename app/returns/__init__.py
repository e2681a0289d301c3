"""Returns of online orders at the store (issue #19): the hub's `return.requested`
becomes an expected return; the returns desk scans, grades and finishes it."""
