build-clang/meta/dev.o: meta/dev.c meta/dev.h

meta/dev.h:
