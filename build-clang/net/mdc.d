build-clang/net/mdc.o: net/mdc.c net/mcache.h include/csvfs/proto.h \
  net/mdc.h include/csvfs/ondisk.h net/msg.h

net/mcache.h:

include/csvfs/proto.h:

net/mdc.h:

include/csvfs/ondisk.h:

net/msg.h:
