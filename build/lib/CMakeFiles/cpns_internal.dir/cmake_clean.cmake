file(REMOVE_RECURSE
  "libcpns_internal.a"
  "libcpns_internal.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/cpns_internal.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
