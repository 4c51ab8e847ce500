build-clang/fs/data.o: fs/data.c include/csvfs/errors.h \
  include/csvfs/ondisk.h fs/data.h include/csvfs/proto.h fs/fmap.h \
  fs/itab.h fs/log.h meta/dev.h net/mdc.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

fs/data.h:

include/csvfs/proto.h:

fs/fmap.h:

fs/itab.h:

fs/log.h:

meta/dev.h:

net/mdc.h:
