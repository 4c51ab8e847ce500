build-clang/tests/unit/mcache_test.o: tests/unit/mcache_test.c \
  net/mcache.h include/csvfs/proto.h

net/mcache.h:

include/csvfs/proto.h:
