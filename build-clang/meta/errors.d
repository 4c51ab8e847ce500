build-clang/meta/errors.o: meta/errors.c include/csvfs/errors.h

include/csvfs/errors.h:
