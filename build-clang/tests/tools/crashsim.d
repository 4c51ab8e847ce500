build-clang/tests/tools/crashsim.o: tests/tools/crashsim.c \
  include/csvfs/errors.h include/csvfs/ondisk.h meta/dev.h meta/format.h \
  meta/fsck.h meta/mds.h include/csvfs/proto.h meta/ondisk.h net/mdc.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

meta/dev.h:

meta/format.h:

meta/fsck.h:

meta/mds.h:

include/csvfs/proto.h:

meta/ondisk.h:

net/mdc.h:
