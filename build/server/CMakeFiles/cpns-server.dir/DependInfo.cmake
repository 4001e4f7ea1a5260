
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/server/gwlinks.c" "server/CMakeFiles/cpns-server.dir/gwlinks.c.o" "gcc" "server/CMakeFiles/cpns-server.dir/gwlinks.c.o.d"
  "/work/main/server/inventory.c" "server/CMakeFiles/cpns-server.dir/inventory.c.o" "gcc" "server/CMakeFiles/cpns-server.dir/inventory.c.o.d"
  "/work/main/server/main.c" "server/CMakeFiles/cpns-server.dir/main.c.o" "gcc" "server/CMakeFiles/cpns-server.dir/main.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/lib/CMakeFiles/cpns_internal.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
