
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/lib/codec.c" "lib/CMakeFiles/cpns_objs.dir/codec.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/codec.c.o.d"
  "/work/main/lib/config.c" "lib/CMakeFiles/cpns_objs.dir/config.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/config.c.o.d"
  "/work/main/lib/daemon.c" "lib/CMakeFiles/cpns_objs.dir/daemon.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/daemon.c.o.d"
  "/work/main/lib/errors.c" "lib/CMakeFiles/cpns_objs.dir/errors.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/errors.c.o.d"
  "/work/main/lib/keyring.c" "lib/CMakeFiles/cpns_objs.dir/keyring.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/keyring.c.o.d"
  "/work/main/lib/log.c" "lib/CMakeFiles/cpns_objs.dir/log.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/log.c.o.d"
  "/work/main/lib/node.c" "lib/CMakeFiles/cpns_objs.dir/node.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/node.c.o.d"
  "/work/main/lib/store_sqlite.c" "lib/CMakeFiles/cpns_objs.dir/store_sqlite.c.o" "gcc" "lib/CMakeFiles/cpns_objs.dir/store_sqlite.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
