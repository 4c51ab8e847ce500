build-clang/fs/csvfsd_main.o: fs/csvfsd_main.c \
  /usr/include/fuse3/fuse_lowlevel.h /usr/include/fuse3/fuse_common.h \
  /usr/include/fuse3/libfuse_config.h /usr/include/fuse3/fuse_opt.h \
  /usr/include/fuse3/fuse_log.h include/csvfs/errors.h fs/fsops.h \
  fs/log.h meta/dev.h fs/cluster.h include/csvfs/ondisk.h meta/format.h \
  meta/mds.h include/csvfs/proto.h meta/ondisk.h net/keyfile.h \
  net/mcache.h net/mdc.h

/usr/include/fuse3/fuse_lowlevel.h:

/usr/include/fuse3/fuse_common.h:

/usr/include/fuse3/libfuse_config.h:

/usr/include/fuse3/fuse_opt.h:

/usr/include/fuse3/fuse_log.h:

include/csvfs/errors.h:

fs/fsops.h:

fs/log.h:

meta/dev.h:

fs/cluster.h:

include/csvfs/ondisk.h:

meta/format.h:

meta/mds.h:

include/csvfs/proto.h:

meta/ondisk.h:

net/keyfile.h:

net/mcache.h:

net/mdc.h:
