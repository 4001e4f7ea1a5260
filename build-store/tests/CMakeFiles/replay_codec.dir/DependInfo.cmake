
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/fuzz/fuzz_codec.c" "tests/CMakeFiles/replay_codec.dir/fuzz/fuzz_codec.c.o" "gcc" "tests/CMakeFiles/replay_codec.dir/fuzz/fuzz_codec.c.o.d"
  "/work/main/tests/fuzz/replay_main.c" "tests/CMakeFiles/replay_codec.dir/fuzz/replay_main.c.o" "gcc" "tests/CMakeFiles/replay_codec.dir/fuzz/replay_main.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-store/lib/CMakeFiles/cpns_internal.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
