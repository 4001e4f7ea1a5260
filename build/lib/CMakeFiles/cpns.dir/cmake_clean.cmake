file(REMOVE_RECURSE
  "libcpns.pdb"
  "libcpns.so"
  "libcpns.so.0"
  "libcpns.so.0.1.0"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/cpns.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
