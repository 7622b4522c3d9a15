/**
 * The Python side of the bridge, run as `python3 -I -u -c RUNNER_SOURCE`. It speaks JSON lines:
 * requests from the engine on fd 3, its answers and questions on fd 4 (stdout and stderr stay the
 * snippets' own: they print). Messages (see protocol.ts for the engine side):
 *
 * - engine → python: `{"op":"run","id","part","phase","code","location"}`, and the replies to its
 *   questions `{"op":"reply","id","ok","value"|"error"}`;
 * - python → engine: `{"op":"call","id","run","method","args"}` (a question, answered before the
 *   snippet goes on; the engine may start nested runs meanwhile — another part's `init` — which are
 *   served before the reply arrives), then `{"op":"done","id","value"}` or
 *   `{"op":"failed","id","type","message","line"}`.
 *
 * Values are tagged JSON (codec.ts): str/None/bool/list as JSON, `{"i":"12"}` int, `{"f":1.5}`
 * float, `{"t":[…]}` tuple, `{"s":[…]}` set, `{"d":[[k,v]…]}` dict.
 *
 * The object model is slapos.recipe.build's default entry as its snippets use it: globals `self`,
 * `options`, `location`, `guessworkdir`, `is_true`, `call`, and the modules `os`, `sys`, `shutil`,
 * `subprocess`, `logging`, `errno`, `tempfile`; `self.buildout[section][option]`, `self.options`,
 * `self.name`, `self.logger`, `self.environ`, `self.download`, `self.extract`, `self.copyTree`,
 * any attribute the snippet stores on `self` (kept from `init` to `install`/`update`).
 * `zc.buildout` is a stand-in holding `UserError` (the same on every node, zc.buildout installed or
 * not): `zc.buildout.easy_install` and the like are ImportErrors.
 */
export const RUNNER_SOURCE = String.raw`
import errno, json, logging, os, shutil, subprocess, sys, tempfile, traceback, types

_inp = os.fdopen(3, 'rb')
_out = os.fdopen(4, 'wb')
os.set_inheritable(3, False)
os.set_inheritable(4, False)
_seq = [0]
_runs = []
_parts = {}


class UserError(Exception):
    """zc.buildout.UserError: an error for the person running buildout (its message only)."""


# zc.buildout is this stand-in whether or not the real one is installed, so that a snippet behaves
# the same on every node; other zc.* packages stay importable.
_zcb = types.ModuleType('zc.buildout')
_zcb.UserError = UserError
try:
    import zc as _zc
except ImportError:
    _zc = types.ModuleType('zc')
    _zc.__path__ = []
    sys.modules['zc'] = _zc
_zc.buildout = _zcb
sys.modules['zc.buildout'] = _zcb


def _enc(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return {'i': str(v)}
    if isinstance(v, float):
        return {'f': v if v == v and v not in (float('inf'), float('-inf')) else repr(v)}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {'t': [_enc(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {'s': [_enc(x) for x in v]}
    if isinstance(v, dict):
        return {'d': [[_enc(k), _enc(x)] for k, x in v.items()]}
    raise TypeError('a value of type %s cannot be stored in an option' % type(v).__name__)


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    if 'i' in v:
        return int(v['i'])
    if 'f' in v:
        return float(v['f'])
    if 't' in v:
        return tuple(_dec(x) for x in v['t'])
    if 's' in v:
        return set(_dec(x) for x in v['s'])
    return dict((_dec(k), _dec(x)) for k, x in v['d'])


def _send(message):
    _out.write(json.dumps(message).encode('utf-8') + b'\n')
    _out.flush()


def _receive():
    line = _inp.readline()
    if not line:
        os._exit(0)
    return json.loads(line)


def _call(method, *args):
    _seq[0] += 1
    ident = _seq[0]
    _send({'op': 'call', 'id': ident, 'run': _runs[-1], 'method': method, 'args': [_enc(a) for a in args]})
    while True:
        message = _receive()
        if message['op'] == 'run':
            _serve(message)
        elif message['op'] == 'reply' and message['id'] == ident:
            if message['ok']:
                return _dec(message.get('value'))
            kind = message.get('kind')
            if kind == 'KeyError':
                raise KeyError(message['error'])
            raise UserError(message['error'])


class Options(object):
    """A section's options, read and written through the engine."""

    def __init__(self, section):
        self._section = section

    def __getitem__(self, key):
        found, value = _call('get', self._section, key)
        if not found:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        found, value = _call('get', self._section, key)
        return value if found else default

    def __setitem__(self, key, value):
        _call('set', self._section, key, value)

    def __delitem__(self, key):
        _call('delete', self._section, key)

    def __contains__(self, key):
        return _call('get', self._section, key)[0]

    def keys(self):
        return list(_call('keys', self._section))

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def values(self):
        return [self[k] for k in self.keys()]

    def copy(self):
        return dict(self.items())

    def setdefault(self, key, default=None):
        found, value = _call('get', self._section, key)
        if found:
            return value
        self[key] = default
        return default

    def pop(self, key, *default):
        found, value = _call('get', self._section, key)
        if not found:
            if default:
                return default[0]
            raise KeyError(key)
        del self[key]
        return value

    def __repr__(self):
        return '<options of [%s]>' % self._section


class Buildout(object):
    """self.buildout: sections by name; reading one initialises it (its recipe's init included)."""

    def __getitem__(self, name):
        if not _call('section', name):
            raise KeyError(name)
        return Options(name)

    def get(self, name, default=None):
        return Options(name) if _call('section', name) else default

    def __contains__(self, name):
        return bool(_call('has_section', name))


def guessworkdir(path):
    entries = os.listdir(path)
    if len(entries) == 1:
        inner = os.path.join(path, entries[0])
        if os.path.isdir(inner):
            return inner
    return path


def is_true(value, default=False):
    if value is None:
        return default
    return str(value).strip().lower() in ('y', 'yes', 'on', 'true', '1')


def call(*args, **kw):
    sys.stdout.flush()
    subprocess.check_call(*args, **kw)


class Part(object):
    """The recipe object of one slapos.recipe.build part (self in its snippets)."""

    def __init__(self, name):
        self.name = name
        self.buildout = Buildout()
        self.options = Options(name)
        self.logger = logging.getLogger(name)
        self._temporary = []

    @property
    def environ(self):
        env = dict(os.environ)
        for line in (self.options.get('environment') or '').splitlines():
            line = line.strip()
            if line and '=' in line:
                key, value = line.split('=', 1)
                env[key.strip()] = value.strip() % env
        return env

    def download(self, url=None, md5sum=None, *args, **kw):
        if url is None:
            url = self.options['url']
            if md5sum is None:
                md5sum = self.options.get('md5sum')
        path, temporary = _call('download', url, md5sum or None)
        if temporary:
            self._temporary.append(path)
        return path

    def extract(self, path, *args, **kw):
        directory = tempfile.mkdtemp(prefix=self.name + '-extract-')
        self._temporary.append(directory)
        _call('extract', path, directory)
        return directory

    def copyTree(self, source, destination, ignore_dir_list=()):
        ignore = shutil.ignore_patterns(*ignore_dir_list) if ignore_dir_list else None
        shutil.copytree(source, destination, symlinks=True, ignore=ignore)

    def _cleanup(self):
        for path in reversed(self._temporary):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.remove(path)
        self._temporary = []


logging.basicConfig(stream=sys.stderr, level=logging.INFO, format='%(name)s: %(message)s')


def _serve(message):
    ident = message['id']
    part = _parts.get(message['part'])
    if part is None:
        part = _parts[message['part']] = Part(message['part'])
    filename = '<%s:%s>' % (message['part'], message['phase'])
    namespace = {
        '__name__': '__slapos_build__',
        'self': part, 'options': part.options, 'location': message.get('location'),
        'guessworkdir': guessworkdir, 'is_true': is_true, 'call': call,
        'os': os, 'sys': sys, 'shutil': shutil, 'subprocess': subprocess,
        'logging': logging, 'errno': errno, 'tempfile': tempfile,
    }
    _runs.append(ident)
    try:
        code = compile(message['code'], filename, 'exec')
        exec(code, namespace)
    except BaseException as error:
        line = getattr(error, 'lineno', None) if isinstance(error, SyntaxError) else None
        if line is None:
            for frame in traceback.extract_tb(error.__traceback__):
                if frame.filename == filename:
                    line = frame.lineno
        kind = 'UserError' if isinstance(error, UserError) else type(error).__name__
        text = str(error)
        if isinstance(error, KeyError) and len(error.args) == 1:
            text = repr(error.args[0])
        result = {'op': 'failed', 'id': ident, 'type': kind, 'message': text, 'line': line}
    else:
        result = {'op': 'done', 'id': ident}
    finally:
        _runs.pop()
        try:
            part._cleanup()
        except Exception:
            pass
    result['synced'] = _sync(ident)
    _send(result)


def _sync(ident):
    """Marks the end of this run's output on stdout and stderr (the engine waits for the marks)."""
    synced = []
    for fd, stream in ((1, 'stdout'), (2, 'stderr')):
        try:
            getattr(sys, stream).flush()
        except Exception:
            pass
        try:
            os.write(fd, ('\0bridge-sync-%d\0\n' % ident).encode())
            synced.append(stream)
        except OSError:
            pass
    return synced

while True:
    _message = _receive()
    if _message.get('op') == 'run':
        _serve(_message)
`;
