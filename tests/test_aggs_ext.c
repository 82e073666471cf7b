#include "test_list.h"

const sp_test tests_aggs_ext[] = {
    {NULL, NULL},
};
