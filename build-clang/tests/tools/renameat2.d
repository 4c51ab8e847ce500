build-clang/tests/tools/renameat2.o: tests/tools/renameat2.c
