build-clang/tests/tools/seekdata.o: tests/tools/seekdata.c
