build-clang/tests/tools/metabench.o: tests/tools/metabench.c
