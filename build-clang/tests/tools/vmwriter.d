build-clang/tests/tools/vmwriter.o: tests/tools/vmwriter.c
