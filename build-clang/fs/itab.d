build-clang/fs/itab.o: fs/itab.c fs/itab.h

fs/itab.h:
