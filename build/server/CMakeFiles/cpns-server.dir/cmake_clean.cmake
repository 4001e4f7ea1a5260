file(REMOVE_RECURSE
  "CMakeFiles/cpns-server.dir/gwlinks.c.o"
  "CMakeFiles/cpns-server.dir/gwlinks.c.o.d"
  "CMakeFiles/cpns-server.dir/inventory.c.o"
  "CMakeFiles/cpns-server.dir/inventory.c.o.d"
  "CMakeFiles/cpns-server.dir/main.c.o"
  "CMakeFiles/cpns-server.dir/main.c.o.d"
  "cpns-server"
  "cpns-server.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/cpns-server.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
