build-clang/lockd/lockd.o: lockd/lockd.c include/csvfs/ondisk.h \
  lockd/lockd.h

include/csvfs/ondisk.h:

lockd/lockd.h:
