#include "test_list.h"

const sp_test tests_sql[] = {
    {NULL, NULL},
};
