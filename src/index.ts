import { app } from '@azure/functions';

// HTTP streaming stays off: every Vigil endpoint answers with a small JSON body.
app.setup({ enableHttpStream: false });
