// The http-cache-tests origin server: the suite's own request handlers,
// bound to 127.0.0.1 on an ephemeral port. The first line on stdout is
// "PORT <n>"; the rest is the handlers' own logging.
import http from 'http'
import handleConfig from 'http-cache-tests/server/handle-config.mjs'
import handleState from 'http-cache-tests/server/handle-state.mjs'
import handleTest from 'http-cache-tests/server/handle-test.mjs'

const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1/')
  const segs = url.pathname.split('/')
  segs.shift()
  const dispatch = segs.shift()
  if (dispatch === 'config') {
    handleConfig(segs, request, response)
  } else if (dispatch === 'test') {
    handleTest(segs, request, response)
  } else if (dispatch === 'state') {
    handleState(segs, request, response)
  } else {
    response.statusCode = 404
    response.end('not found\n')
  }
})
server.listen(0, '127.0.0.1', () => {
  console.log(`PORT ${server.address().port}`)
})
