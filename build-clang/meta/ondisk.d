build-clang/meta/ondisk.o: meta/ondisk.c include/csvfs/errors.h \
  meta/ondisk.h include/csvfs/ondisk.h

include/csvfs/errors.h:

meta/ondisk.h:

include/csvfs/ondisk.h:
