#include "test_list.h"

const sp_test tests_joins[] = {
    {NULL, NULL},
};
