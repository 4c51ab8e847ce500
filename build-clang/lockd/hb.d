build-clang/lockd/hb.o: lockd/hb.c include/csvfs/errors.h lockd/hb.h \
  include/csvfs/ondisk.h meta/dev.h meta/ondisk.h

include/csvfs/errors.h:

lockd/hb.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/ondisk.h:
