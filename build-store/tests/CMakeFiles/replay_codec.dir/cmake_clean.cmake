file(REMOVE_RECURSE
  "CMakeFiles/replay_codec.dir/fuzz/fuzz_codec.c.o"
  "CMakeFiles/replay_codec.dir/fuzz/fuzz_codec.c.o.d"
  "CMakeFiles/replay_codec.dir/fuzz/replay_main.c.o"
  "CMakeFiles/replay_codec.dir/fuzz/replay_main.c.o.d"
  "replay_codec"
  "replay_codec.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/replay_codec.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
