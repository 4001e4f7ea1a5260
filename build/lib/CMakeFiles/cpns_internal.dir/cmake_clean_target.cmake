file(REMOVE_RECURSE
  "libcpns_internal.a"
)
