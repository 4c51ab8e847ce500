build-clang/fs/csvfsctl_main.o: fs/csvfsctl_main.c fs/client_api.h \
  net/keyfile.h

fs/client_api.h:

net/keyfile.h:
