build-clang/tests/tools/fsx.o: tests/tools/fsx.c
