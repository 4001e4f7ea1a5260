file(REMOVE_RECURSE
  "CMakeFiles/cpns_objs.dir/codec.c.o"
  "CMakeFiles/cpns_objs.dir/codec.c.o.d"
  "CMakeFiles/cpns_objs.dir/config.c.o"
  "CMakeFiles/cpns_objs.dir/config.c.o.d"
  "CMakeFiles/cpns_objs.dir/daemon.c.o"
  "CMakeFiles/cpns_objs.dir/daemon.c.o.d"
  "CMakeFiles/cpns_objs.dir/errors.c.o"
  "CMakeFiles/cpns_objs.dir/errors.c.o.d"
  "CMakeFiles/cpns_objs.dir/keyring.c.o"
  "CMakeFiles/cpns_objs.dir/keyring.c.o.d"
  "CMakeFiles/cpns_objs.dir/log.c.o"
  "CMakeFiles/cpns_objs.dir/log.c.o.d"
  "CMakeFiles/cpns_objs.dir/msg.c.o"
  "CMakeFiles/cpns_objs.dir/msg.c.o.d"
  "CMakeFiles/cpns_objs.dir/node.c.o"
  "CMakeFiles/cpns_objs.dir/node.c.o.d"
  "CMakeFiles/cpns_objs.dir/store_sqlite.c.o"
  "CMakeFiles/cpns_objs.dir/store_sqlite.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/cpns_objs.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
