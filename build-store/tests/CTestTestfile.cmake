# CMake generated Testfile for 
# Source directory: /work/main/tests
# Build directory: /work/main/build-store/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[unit.test_codec]=] "/work/main/build-store/tests/test_codec")
set_tests_properties([=[unit.test_codec]=] PROPERTIES  ENVIRONMENT "CPNS_TEST_TMP=/work/main/build-store/tests/tmp" LABELS "unit" TIMEOUT "60" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[unit.test_store]=] "/work/main/build-store/tests/test_store")
set_tests_properties([=[unit.test_store]=] PROPERTIES  ENVIRONMENT "CPNS_TEST_TMP=/work/main/build-store/tests/tmp" LABELS "unit" TIMEOUT "60" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;12;add_test;/work/main/tests/CMakeLists.txt;0;")
add_test([=[fuzz.replay.codec]=] "/work/main/build-store/tests/replay_codec" "/work/main/tests/fuzz/corpus/codec")
set_tests_properties([=[fuzz.replay.codec]=] PROPERTIES  LABELS "fuzz" TIMEOUT "120" _BACKTRACE_TRIPLES "/work/main/tests/CMakeLists.txt;27;add_test;/work/main/tests/CMakeLists.txt;0;")
