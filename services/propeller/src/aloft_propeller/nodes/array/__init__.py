"""Array (map) nodes: one task sub-node per input element, state kept compact in the array node's own record."""
