build-clang/fs/fmap.o: fs/fmap.c include/csvfs/ondisk.h fs/fmap.h \
  include/csvfs/proto.h net/mdc.h

include/csvfs/ondisk.h:

fs/fmap.h:

include/csvfs/proto.h:

net/mdc.h:
