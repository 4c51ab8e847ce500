build-neg/tests/tools/locktool.o: tests/tools/locktool.c
