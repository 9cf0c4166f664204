"""Flask extensions, instantiated once and bound to the app by the factory."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from coordinator.database import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

if TYPE_CHECKING:
    # mypy cannot follow Flask-SQLAlchemy's dynamically built db.Model; it is our Base.
    Model = Base
else:
    #: The base class of every model.
    Model = db.Model
